"""The shipped images as services (object: `dagger call services tts up`) and the smoke against them."""
