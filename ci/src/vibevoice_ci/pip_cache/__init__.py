"""The pip caches carried across runs on hosted runners, whose engines start empty."""
