"""Past one host: node agents (faas-node) that own each host's containers, and front ends that route every
invocation to one of them by rendezvous hashing, over the nodes whose heartbeats are live in Redis.

    members.py    heartbeats (written by nodes) and the live view of them (read by front ends)
    rendezvous.py the order in which a front end offers an invocation to the nodes (pure)
    node.py       the node agent: its internal API around the host's PoolManager
    remote.py     the front end's pool: the PoolManager interface, carried out on the nodes
    images.py     function images to nodes: a registry, or docker save | docker load
"""
