// Models, layers, parameter naming and safetensors checkpoints.
