"""What every concern of the module shares: the repository and where its images come from (toolchain,
redirects, pins), the command lines every container runs, image tags and OCI metadata, how steps'
outcomes are reported, and the typed front of the SDK's decorators. Nothing here imports a concern.
"""
