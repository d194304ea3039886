"""The container image: python -m image.build (bash setup.sh image)."""
