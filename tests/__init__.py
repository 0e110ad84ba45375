"""The tests of poetry-ci-image."""
