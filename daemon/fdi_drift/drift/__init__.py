"""Pure drift domain: values, the nested JSON codec, normalization and diffing. No I/O."""
