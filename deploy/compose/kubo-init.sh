#!/bin/sh
# Run by the ipfs/kubo image before its daemon starts (/container-init.d).
# The image opens the RPC API and the gateway on 0.0.0.0; the RPC API is
# admin access to the node, and only the trellisd beside it needs it, over
# the loopback interface they share. The swarm port (4001) stays open.
set -e
ipfs config Addresses.API /ip4/127.0.0.1/tcp/5001
ipfs config Addresses.Gateway /ip4/127.0.0.1/tcp/8080
