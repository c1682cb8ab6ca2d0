"""The Interpret workspace: saliency, SmoothGrad, occlusion, Grad-CAM, activation maximisation and
the evaluation (confusion matrix and mistakes)."""
