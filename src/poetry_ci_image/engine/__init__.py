"""The Docker engine, and your own Dockerfile, which only the engine builds.

docker.py          the engine behind a narrow seam (`Engine`; `DockerEngine` is the real one)
own_dockerfile.py  your own Dockerfile built with the plan's files
build_context.py   the build context it is given
dockerfile.py      what that context holds, and a Dockerfile to start from
"""
