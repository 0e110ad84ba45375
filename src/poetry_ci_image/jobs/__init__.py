"""The work of the commands beyond resolving the lock (tag/): the image of a resolved lock, made
and sent where the command says, and the reference recorded where the pipeline reads it.

build_job.py       into the Docker engine, or an OCI image layout directory
push_job.py        into the registry: nothing when it has the tag, else assemble and send
image_job.py       what both share: the job, the built-in recipe's image, an engine's copy of it
dockerfile_job.py  your own Dockerfile, built by the engine with the plan's files
tag_job.py         `tag`: the reference recorded, or checked against the tag-file or registry
"""
