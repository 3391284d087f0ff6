"""The rest of `make test`: pyright, the pipeline's and the repository's tests, the model tests, and the
dev environment (devenv) they and the lint run in."""
