"""``python -m pyro_vae`` runs the command line."""

import sys

from pyro_vae.cli import main

sys.exit(main())
