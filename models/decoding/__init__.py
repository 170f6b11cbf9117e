"""Running the transformer: FastCar replay, sparse attention, sampling, decoding runs,
threshold calibration and quality against dense decoding."""
