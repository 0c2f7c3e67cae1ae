"""The cell's electrochemistry record, which every operando technique is aligned to.

Readers (:mod:`operando.echem.eclab`): BioLogic EC-Lab ``.mpt``/``.mpr`` and plain CSV logs,
each returned as an :class:`EchemLog` (``Time [s]``, ``Voltage [V]``, ``Current [mA]``) or
refused with one :class:`~operando.errors.InputError`. Alignment (:mod:`operando.echem.clock`):
acquisition times of spectra or image frames placed on the log's clock, and the voltage and
current interpolated there.
"""
from operando.echem.eclab import EchemLog, read_echem, read_mpr, read_mpt

__all__ = ["EchemLog", "read_echem", "read_mpr", "read_mpt"]
