"""The OptiProxy proxy: a bidirectional GCN predicting accuracy and latency of architectures."""

from hwnas.proxy.gcn import BidirectionalGCNLayer, ProxyNet
from hwnas.proxy.model import Proxy, ProxyConfig, ProxyPrediction, encode_batch

__all__ = ["BidirectionalGCNLayer", "Proxy", "ProxyConfig", "ProxyNet", "ProxyPrediction", "encode_batch"]
