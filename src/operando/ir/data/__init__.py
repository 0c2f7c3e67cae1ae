"""Data path: experiment metadata, the dataset container and its HDF5 file, CSV import/export,
preprocessing onto the common 800-2000 cm-1 grid, and dataset statistics."""
from operando.ir.data.dataset import OperandoDataset
from operando.ir.data.experiment import Electrolyte, Experiment, ExperimentMeta, GroundTruth

__all__ = ["OperandoDataset", "Experiment", "ExperimentMeta", "Electrolyte", "GroundTruth"]
