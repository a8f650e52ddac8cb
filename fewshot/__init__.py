"""Few-shot CGAN data augmentation, measured honestly on the real test set."""
