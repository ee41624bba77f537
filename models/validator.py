"""The model validator ("blessing"): may a quantized variant be served instead of its float model?

Rule: on the evaluation images, the variant's top-1 is within 1 point of the float model's
(a drop of at most 1.0 percentage point; being better is fine) and the variant agrees with
the float model's top-1 on at least 97% of the images. The verdict and its numbers go into
the registry entry (`validation`), and the host serves only blessed models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from . import config


@dataclass(frozen=True)
class Verdict:
    blessed: bool
    top1: float
    float_top1: float
    top1_drop_points: float
    agreement: float
    images: int
    reasons: list[str] = field(default_factory=list)
    rule: str = (
        f"top-1 at most {config.MAX_TOP1_DROP_POINTS:g} point below the float model and "
        f"top-1 agreement with it >= {config.MIN_TOP1_AGREEMENT:.0%}"
    )

    def as_dict(self) -> dict:
        data = asdict(self)
        data["verdict"] = "blessed" if self.blessed else "rejected"
        return data

    def sentence(self) -> str:
        numbers = (f"top-1 {self.top1:.2%} vs float {self.float_top1:.2%} "
                   f"(drop {self.top1_drop_points:+.2f} points), agreement {self.agreement:.2%} "
                   f"on {self.images} images")
        if self.blessed:
            return f"blessed: {numbers}"
        return f"rejected: {numbers}; " + "; ".join(self.reasons)


def validate(top1: float, float_top1: float, agreement: float, images: int,
             max_drop_points: float = config.MAX_TOP1_DROP_POINTS,
             min_agreement: float = config.MIN_TOP1_AGREEMENT) -> Verdict:
    """Bless or reject from accuracies given as fractions (0.85 = 85%)."""
    if images <= 0:
        raise ValueError("The validator needs at least one evaluation image.")
    for label, value in (("top-1", top1), ("float top-1", float_top1), ("agreement", agreement)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{label} must be a fraction between 0 and 1, not {value}.")
    drop = round((float_top1 - top1) * 100, 4)
    reasons = []
    if drop > max_drop_points + 1e-9:
        reasons.append(f"top-1 drops {drop:.2f} points, more than the {max_drop_points:g} allowed")
    if agreement < min_agreement - 1e-12:
        reasons.append(f"top-1 agreement {agreement:.2%} is below {min_agreement:.0%}")
    return Verdict(
        blessed=not reasons,
        top1=round(top1, 6),
        float_top1=round(float_top1, 6),
        top1_drop_points=drop,
        agreement=round(agreement, 6),
        images=images,
        reasons=reasons,
    )
