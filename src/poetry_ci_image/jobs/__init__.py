"""The work of `poetry image build` and `poetry image push`: the image of a resolved lock, made
and sent where the command says.

build_job.py  into the Docker engine, or an OCI image layout directory
push_job.py   into the registry: nothing when it has the tag, else assemble and send
"""
