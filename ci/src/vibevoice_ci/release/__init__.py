"""The release: publishing the images on one registry, then signing, attesting and verifying them
(object.py); who releases (identity), who signs (signing), cosign's command lines and the provenance."""
