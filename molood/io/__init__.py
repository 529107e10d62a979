"""Library files: format detection (:mod:`.formats`), streaming readers (:mod:`.readers`) and
atomic writers (:mod:`.writers`) for Parquet, CSV/TSV, SMILES and SD files. No torch.
"""
