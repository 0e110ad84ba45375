"""The target as Poetry sees an environment: its markers and wheel tags, not the host's."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from poetry.utils.env import MockEnv


if TYPE_CHECKING:
    from packaging.tags import Tag
    from poetry.utils.env.base_env import MarkerEnv

    from poetry_ci_image.settings.target import Target


class TargetEnv(MockEnv):
    """A Poetry `Env` whose markers and wheel tags are the target's, not the host's.

    Every marker value comes from the target (MockEnv alone leaks some from the host).
    """

    def __init__(self, target: Target) -> None:
        self._target_markers = target.marker_env()
        self._target_tags = TagList(target.supported_tags())
        super().__init__(
            version_info=target.python,
            platform="linux",
            platform_machine=target.machine,
            supported_tags=self._target_tags,
        )

    def get_marker_env(self) -> MarkerEnv:
        return cast("MarkerEnv", dict(self._target_markers))

    def get_supported_tags(self) -> list[Tag]:
        return list(self._target_tags)


class TagList(list["Tag"]):
    """The target's tags, best first, with constant-time `in` and `index`.

    Poetry's Wheel.get_minimum_supported_index calls both once per wheel tag on a list of some
    900 tags; on a large lock that linear search was a third of the planning time.
    """

    def __init__(self, tags: list[Tag]) -> None:
        super().__init__(tags)
        self._positions: dict[Tag, int] = {}
        for position, tag in enumerate(tags):
            self._positions.setdefault(tag, position)

    def __contains__(self, tag: object) -> bool:
        return tag in self._positions

    def index(self, tag: Tag, *args: Any) -> int:
        if args:
            return super().index(tag, *args)
        try:
            return self._positions[tag]
        except KeyError:
            raise ValueError(f"{tag} is not a supported tag") from None
