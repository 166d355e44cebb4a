from sense.sense_support import qrs, sense  # noqa: F401  (fixtures)
