"""Data: built-in datasets; files, arrays and torch datasets (mapped or streamed when large); splits, batches.

Sources are looked up by name in :data:`DATASETS`; :func:`load_data` turns the
``[data]`` section of a config into a :class:`DataBundle`.
"""

from pyro_vae.data._registry import DATASETS, RawData
from pyro_vae.data.arrays import as_examples, as_labels
from pyro_vae.data.builtin import digits, fashion_mnist, mnist
from pyro_vae.data.features import vae_features
from pyro_vae.data.files import FILE_SOURCES, csv_file, image_folder, npy_file, npz_file
from pyro_vae.data.loader import Shard, TrainingBatches, batch_at, iterate_batches, num_batches
from pyro_vae.data.mapped import MappedRows
from pyro_vae.data.objects import IN_MEMORY_SOURCES, origin_of, source_of, torch_dataset, torch_stream
from pyro_vae.data.prefetch import prefetch
from pyro_vae.data.prepare import DataBundle, Split, check_support, load_data, resolve_binarize
from pyro_vae.data.shapes import shapes
from pyro_vae.data.stream import StreamedRows
from pyro_vae.data.torch_data import collate_items
from pyro_vae.kinds import DataShape

__all__ = [
    "DATASETS",
    "FILE_SOURCES",
    "IN_MEMORY_SOURCES",
    "DataBundle",
    "DataShape",
    "MappedRows",
    "RawData",
    "Shard",
    "Split",
    "StreamedRows",
    "TrainingBatches",
    "as_examples",
    "as_labels",
    "batch_at",
    "check_support",
    "collate_items",
    "csv_file",
    "digits",
    "fashion_mnist",
    "image_folder",
    "iterate_batches",
    "load_data",
    "mnist",
    "npy_file",
    "npz_file",
    "num_batches",
    "origin_of",
    "prefetch",
    "resolve_binarize",
    "shapes",
    "source_of",
    "torch_dataset",
    "torch_stream",
    "vae_features",
]
