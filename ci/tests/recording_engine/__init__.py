"""A stand-in for the Dagger engine, served on loopback, that runs every function of the module and
records what each would have the engine do (harness.py runs them; recording.py is what comes back).
"""
