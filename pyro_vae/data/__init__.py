"""Data: built-in datasets, the user's own files and arrays (memory-mapped when large), splits, batches.

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
from pyro_vae.data.prefetch import prefetch
from pyro_vae.data.prepare import DataBundle, Split, check_support, load_data, resolve_binarize
from pyro_vae.data.shapes import shapes
from pyro_vae.kinds import DataShape

__all__ = [
    "DATASETS",
    "FILE_SOURCES",
    "DataBundle",
    "DataShape",
    "MappedRows",
    "RawData",
    "Shard",
    "Split",
    "TrainingBatches",
    "as_examples",
    "as_labels",
    "batch_at",
    "check_support",
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
    "prefetch",
    "resolve_binarize",
    "shapes",
    "vae_features",
]
