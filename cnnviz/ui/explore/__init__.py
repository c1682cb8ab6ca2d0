"""The Explore workspace: the canvas or picture, Network Input, the Layers overview, receptive
fields, the step-by-step maths of one unit and the Filter Editor."""
