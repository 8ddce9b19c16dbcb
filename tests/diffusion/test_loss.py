import torch

from depthdif.diffusion.ambient import ambient_inputs, standard_inputs
from depthdif.diffusion.loss import diffusion_loss, masked_mse
from depthdif.diffusion.schedule import make_schedule


def test_masked_mse_hand_computed():
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    target = torch.tensor([0.0, 0.0, 1.0, 10.0])
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert masked_mse(pred, target, mask).item() == (1 + 4) / 2


def _tiny_case():
    # one sample, 2 depth levels, 1x2 pixels
    x = torch.tensor([[[[1.0, 0.0]], [[2.0, 0.0]]]])
    A = torch.tensor([[[[1.0, 0.0]], [[1.0, 0.0]]]])
    y = torch.tensor([[[[1.5, 3.0]], [[2.5, 4.0]]]])
    Y = torch.tensor([[[[1.0, 1.0]], [[0.0, 1.0]]]])  # level 1 at pixel 0 is below the sea floor
    return x, A, y, Y


def test_loss_hand_computed_in_both_modes():
    schedule = make_schedule("linear", 4, 0.1, 0.5)
    x, A, y, Y = _tiny_case()
    t, noise = torch.tensor([2]), torch.full_like(x, 0.5)
    abar = float(schedule.alpha_bars[2])
    seen = {}

    def denoise(x_t, tt):  # a fixed "network": predicts the constant 0.25, records its input
        seen["x_t"] = x_t
        return torch.full_like(x_t, 0.25)

    # ambient, x0: target x on S = A ⊙ Y = only (level 0, pixel 0) → (1 - 0.25)^2
    At = torch.zeros_like(A)
    amb = ambient_inputs(x, A, Y, At, mask_noisy_branch=True)
    loss = diffusion_loss(denoise, amb.target, amb.loss_mask, t, noise, schedule, "x0", amb.noisy_mask)
    assert abs(loss.item() - 0.75 ** 2) < 1e-6
    assert torch.count_nonzero(seen["x_t"]) == 0  # x̃_t = Ã ⊙ x_t with Ã = 0
    # standard, x0: target y on Y (3 valid entries): (1.25² + 2.75² + 3.75²) / 3
    std = standard_inputs(x, A, y, Y)
    loss = diffusion_loss(denoise, std.target, std.loss_mask, t, noise, schedule, "x0", std.noisy_mask)
    assert abs(loss.item() - (1.25 ** 2 + 2.75 ** 2 + 3.75 ** 2) / 3) < 1e-5
    expected_xt = abar ** 0.5 * y + (1 - abar) ** 0.5 * noise
    assert torch.allclose(seen["x_t"], expected_xt)
    # standard, epsilon: target is the noise 0.5 on Y → (0.5 - 0.25)^2
    loss = diffusion_loss(denoise, std.target, std.loss_mask, t, noise, schedule, "epsilon")
    assert abs(loss.item() - 0.0625) < 1e-6


def test_empty_support_gives_zero_loss_that_backpropagates():
    schedule = make_schedule("cosine", 10)
    x, A, y, Y = _tiny_case()
    weight = torch.tensor(3.0, requires_grad=True)
    amb = ambient_inputs(x * 0, A * 0, Y, A * 0, mask_noisy_branch=True)
    loss = diffusion_loss(lambda x_t, t: weight * torch.ones_like(x_t), amb.target, amb.loss_mask,
                          torch.tensor([3]), torch.randn_like(x), schedule, "x0", amb.noisy_mask)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert weight.grad is not None and torch.isfinite(weight.grad) and weight.grad.item() == 0.0
