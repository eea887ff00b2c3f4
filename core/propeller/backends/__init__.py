"""Backends that run the propeller's task jobs.

``local`` (the embedded default) runs them in a pool of warm worker processes on this machine;
a ``kubernetes`` backend runs them as Pods and operator resources.
"""
