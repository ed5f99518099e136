"""An independent PyTorch implementation of TRL's GRPO loss (trl/trainer/grpo_trainer.py,
GRPOTrainer._compute_loss), written on padded [B, L] tensors with a completion mask the way
TRL does, with autograd for the gradient. It shares no code with ringlm's src/rl/grpo_loss.

usage: grpo_reference.py IN_FOLDER OUT_FOLDER
IN_FOLDER (see tensor_io.py): meta = {loss_types: [...], epsilon, epsilon_high, beta, max_completion_length};
tensors logp, old_logp, ref_logp, mask (f64 [B, L]), advantages (f64 [B]).
OUT_FOLDER: per loss type T: loss.T [1] and grad_logp.T [B, L] (d loss / d logp), f64.
"""
import sys

import torch

from tensor_io import read_folder, write_folder


def grpo_loss(logp, old_logp, ref_logp, mask, advantages, meta, loss_type):
    coef_1 = torch.exp(logp - old_logp)
    coef_2 = torch.clamp(coef_1, 1 - meta["epsilon"], 1 + meta["epsilon_high"])
    per_token_loss1 = coef_1 * advantages.unsqueeze(1)
    per_token_loss2 = coef_2 * advantages.unsqueeze(1)
    per_token_loss = -torch.min(per_token_loss1, per_token_loss2)
    if meta["beta"] != 0.0:
        per_token_kl = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1
        per_token_loss = per_token_loss + meta["beta"] * per_token_kl
    if loss_type == "grpo":
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        return (per_token_loss * mask).sum() / (per_token_loss.size(0) * meta["max_completion_length"])
    raise ValueError(loss_type)


def main():
    meta, t = read_folder(sys.argv[1])
    out = {}
    for loss_type in meta["loss_types"]:
        logp = torch.tensor(t["logp"], dtype=torch.float64, requires_grad=True)
        loss = grpo_loss(logp, torch.tensor(t["old_logp"]), torch.tensor(t["ref_logp"]), torch.tensor(t["mask"]),
                         torch.tensor(t["advantages"]), meta, loss_type)
        loss.backward()
        out["loss." + loss_type] = loss.detach().reshape(1).numpy()
        out["grad_logp." + loss_type] = logp.grad.numpy()
    write_folder(sys.argv[2], {}, out)


if __name__ == "__main__":
    main()
