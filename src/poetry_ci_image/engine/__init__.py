"""The Docker engine, and what your own Dockerfile (which only the engine builds) is given.

docker.py          the engine behind a narrow seam (`Engine`; `DockerEngine` is the real one)
build_context.py   the build context your Dockerfile is given
dockerfile.py      what that context holds, and a Dockerfile to start from

The build itself, with the plan's files, is a job: jobs/dockerfile_job.py.
"""
