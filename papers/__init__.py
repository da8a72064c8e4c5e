"""The science of the Paper Demo Gallery: one module per paper, no UI code (no gradio import)."""
