"""The Helm chart: its lint and render (helm), its tests, and the cluster test in k3s inside the engine
(cluster, containers); the object is in object.py."""
