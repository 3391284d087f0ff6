"""The VibeVoice pipeline as code: a Dagger module (`main.Vibevoice`) and the pure logic it runs on.

The Dagger runtime finds the main object through the `dagger.mod` entry point in ci/pyproject.toml;
nothing is imported here, so `python -m vibevoice_ci` and the pure modules load without the SDK's
engine connection.
"""
