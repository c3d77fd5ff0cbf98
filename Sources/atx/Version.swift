let atxVersion = "0.1.0"
