"""The Train workspace: data, the layer-list editor, hyperparameters, the training worker, live
curves and network health."""
