#!/usr/bin/env bash
# The independent references the fidelity tests compare against, installed into the active environment:
# - litgpt 0.5.8 (the version the released Audio-Interaction code pins) and openai-whisper, without their
#   pins (litgpt asks for numpy<2, whisper for triton; neither is needed for the model and mel code used);
#   their other dependencies (lightning, tiktoken, more-itertools) come with streamaudio[test];
# - transformers 4.57.6 (the released pin) beside the environment's newer one, in a folder that
#   tests/test_transformers_pin.py puts first on PYTHONPATH to run the model tests again.
set -euo pipefail
python -m pip install --quiet --no-deps "litgpt==0.5.8" "openai-whisper==20250625"
target="$(python -c 'import sys; print(sys.prefix)')/transformers-4.57"
if [ ! -d "$target/transformers-4.57.6.dist-info" ]; then
  python -m pip install --quiet --no-deps --target "$target" "transformers==4.57.6" \
    "tokenizers>=0.22,<=0.23.0" "huggingface_hub>=0.34,<1.0"
fi
