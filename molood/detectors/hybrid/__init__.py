"""The hybrid detector: SEGO beside nearest neighbours, descriptors and hard atom-type rules,
fused into one calibrated score with a reason per flagged molecule (:mod:`.detector`)."""
