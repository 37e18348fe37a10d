"""Every linear IR node as an exact sparse matrix on flattened (C-order) vectors.

Both the float reference and the ``fuse`` pass use these, so convolutions, pooling, flatten and
scaling mean the same thing everywhere: ``y = M @ x + b``.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sparse

from codesign.compiler.ir import Affine, Conv, Flatten, Node, Pool2d, Scale


def _conv_matrix(node: Conv) -> sparse.csr_matrix:
    out_channels, in_per_group, *kernel = node.weight.shape
    in_shape, out_shape = node.input_shape, node.output_shape
    out_per_group = out_channels // node.groups
    rows, cols, values = [], [], []
    out_positions = np.array(list(itertools.product(*(range(s) for s in out_shape[1:]))))
    for kernel_offset in itertools.product(*(range(k) for k in kernel)):
        # input coordinate of every output position for this kernel tap
        coordinate = (out_positions * np.array(node.stride) - np.array(node.padding)
                      + np.array(kernel_offset) * np.array(node.dilation))
        inside = np.all((coordinate >= 0) & (coordinate < np.array(in_shape[1:])), axis=1)
        out_flat = np.ravel_multi_index(tuple(out_positions[inside].T), out_shape[1:])
        in_flat = np.ravel_multi_index(tuple(coordinate[inside].T), in_shape[1:])
        for out_channel in range(out_channels):
            group = out_channel // out_per_group
            for local_in in range(in_per_group):
                weight = node.weight[(out_channel, local_in, *kernel_offset)]
                if weight == 0:
                    continue
                in_channel = group * in_per_group + local_in
                rows.append(out_channel * len(out_positions) + out_flat)
                cols.append(in_channel * int(np.prod(in_shape[1:])) + in_flat)
                values.append(np.full(len(out_flat), weight))
    size = (int(np.prod(out_shape)), int(np.prod(in_shape)))
    if not rows:
        return sparse.csr_matrix(size)
    return sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                             shape=size)


def _pool_matrix(node: Pool2d) -> sparse.csr_matrix:
    channels, *in_spatial = node.input_shape
    _, *out_spatial = node.output_shape
    value = 1.0 / np.prod(node.kernel_size) if node.average else 1.0
    rows, cols = [], []
    for channel, oy, ox, ky, kx in itertools.product(range(channels), range(out_spatial[0]),
                                                     range(out_spatial[1]),
                                                     range(node.kernel_size[0]),
                                                     range(node.kernel_size[1])):
        iy = oy * node.stride[0] - node.padding[0] + ky
        ix = ox * node.stride[1] - node.padding[1] + kx
        if 0 <= iy < in_spatial[0] and 0 <= ix < in_spatial[1]:
            rows.append((channel * out_spatial[0] + oy) * out_spatial[1] + ox)
            cols.append((channel * in_spatial[0] + iy) * in_spatial[1] + ix)
    size = (int(np.prod(node.output_shape)), int(np.prod(node.input_shape)))
    return sparse.csr_matrix((np.full(len(rows), value), (rows, cols)), shape=size)


def matrix(node: Node) -> sparse.csr_matrix:
    """The node's linear map ``M`` on flattened vectors."""
    if isinstance(node, Affine):
        return sparse.csr_matrix(node.weight)
    if isinstance(node, Scale):
        return sparse.diags(node.scale.ravel()).tocsr()
    if isinstance(node, Conv):
        return _conv_matrix(node)
    if isinstance(node, Pool2d):
        return _pool_matrix(node)
    if isinstance(node, Flatten):
        return sparse.identity(int(np.prod(node.input_shape)), format="csr")
    raise TypeError(f"{type(node).__name__} is not a linear node")


def bias(node: Node) -> np.ndarray:
    """The node's constant offset ``b`` on the flattened output (zeros where it has none)."""
    size = int(np.prod(node.output_shape))
    if isinstance(node, Affine):
        return node.bias.ravel()
    if isinstance(node, Conv):
        per_channel = int(np.prod(node.output_shape[1:]))
        return np.repeat(node.bias, per_channel)
    return np.zeros(size)
