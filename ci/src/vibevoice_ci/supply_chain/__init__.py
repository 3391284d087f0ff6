"""The supply chain: pip-audit of the dependencies, Trivy scans and SBOMs of the images, and the gates
that judge them (`python -m vibevoice_ci gate`). The object is in object.py; the package itself
imports nothing, so the gate runs in a container that has no Dagger SDK.
"""
