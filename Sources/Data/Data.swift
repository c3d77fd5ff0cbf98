// Dataset readers, augmentation and batching.
