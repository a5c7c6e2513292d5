"""irt-desktop: find photos by example with IRT vision-transformer descriptors."""

__version__ = "0.1.0"
