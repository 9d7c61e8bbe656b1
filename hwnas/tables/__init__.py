"""Per-architecture tables: the table type, readers, the catalog of what is on disk, downloads."""

from hwnas.tables.catalog import Catalog
from hwnas.tables.table import ARCH_INDEX, ARCH_STR, ArchTable, MetricInfo, load_table

__all__ = ["ARCH_INDEX", "ARCH_STR", "ArchTable", "Catalog", "MetricInfo", "load_table"]
