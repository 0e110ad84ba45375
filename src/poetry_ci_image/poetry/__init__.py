"""The seam between the plugin and Poetry's internals: every use of them is in this package.

Poetry's plugin API is only the plugin base classes (`ApplicationPlugin`, `Command`); the locker,
the installer, the chooser, the artifact cache and the authenticator are internals that may change
in any minor release. They are used here and nowhere else, so a Poetry upgrade touches this
package only. What leaves it is plain data (`ProjectFacts`, `InstallPlan`, paths).

- `project.py`: the project's files and facts (its table, its Python constraint);
- `planner.py`: what `poetry install` would install on the target, from the lock alone;
- `fetch.py`: the plan's files, through Poetry's cache and credentials, built on the host if needed;
- `wheels.py`: Poetry's own wheels for the target, and a pip for the target;
- `pins.py`: the set of Poetry's dependencies the image gets, per Poetry version and target
  (pins.json, written by scripts/pin_poetry.py); plain data, no Poetry import;
- `lock_shape.py`: a damaged poetry.lock, named before Poetry's locker trips on it;
- `boundary.py`: what the seam turns an unexpected Poetry failure into.

Importing a module here imports Poetry's internals it needs; the rest of the plugin imports these
modules only when the work needs them (a plan-cache miss, a build).
"""
