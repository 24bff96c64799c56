#!/bin/bash
cd "$(dirname "$0")/../.."  # the repository root; needs the cpu suite in bench-cpu/
for m in "$@"; do
  .venv/bin/anatomy-ssl evaluate --encoder bench-cpu/encoders/phantom_xray/$m --data bench-cpu/data/phantom_xray --out bench-ft/records -p few_shot_segmentation --method $m --no-progress 'few_shot_segmentation.steps=1500' 'few_shot_segmentation.modes=[finetune]' 'few_shot_segmentation.k=[1,2]' 'few_shot_segmentation.seeds=[0,1,2]' 'few_shot_segmentation.lr=0.01' 'few_shot_segmentation.crop_vox=32' 'few_shot_segmentation.batch_size=2' 2>&1 | grep -o "seed [0-9]: finetune_k1_dice [0-9.e-]*\|finetune_k2_dice [0-9.e-]*" | tr '\n' ' '; echo " <- $m"
done
