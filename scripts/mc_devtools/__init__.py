"""Development tooling of the checkout, not shipped in the wheel: the tools bootstrap and the JUnit summary.

scripts/lib/setup.bash, scripts/test, tox.ini and the CI workflow run it with ``scripts`` (and, before the
project is installed, ``src``) on PYTHONPATH; ./scripts/bootstrap does that for a person.
"""
