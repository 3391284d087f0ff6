"""The product's images: which services and targets there are (catalog), how the engine builds them
(build), how they run beside each other (binding), and the checks over the images built (object)."""
