"""The tag half: from the lock to the image reference, offline.

resolve.py     the steps in order: settings -> targets -> install plans -> recipe -> fingerprint
plan.py        the install plan: what `poetry install` would put into the image
plan_cache.py  the project facts and plans, cached by everything they are computed from
recipe.py      what the image holds besides the packages, and how it is made
fingerprint.py the hash of all of it, and the tag made from it
labels.py      the names of the labels an image of that fingerprint carries
describe.py    what `tag --json` prints, and the sdists `push` would build on the host
tagfile.py     the tag-file `poetry image tag` records the reference in
outputs.py     other places a pipeline reads it from: a dotenv file, $GITHUB_OUTPUT
"""
