"""Automatic checks for the exercises: the course's own ideas used as tests.

``common`` holds what every check shares (the pass line, the failure with its hint, generic
checks such as completeness or additivity); ``nbNN`` holds the checks of notebook NN.
Every name is importable from ``helpers.checks`` directly, as the notebooks do.
"""

from helpers.checks.common import (  # noqa: F401
    ExerciseFailed,
    fail,
    passed,
    resolve,
    as_array,
    check_close,
    assert_close,
    check_function_matches,
    check_shape_device,
    check_completeness,
    check_additivity,
    check_smoothgrad_no_noise,
    check_beats_random,
    check_randomization,
)
from helpers.checks.nb01 import (  # noqa: F401
    check_completeness_prediction,
    check_ig_debugged,
    check_why_not,
)
from helpers.checks.nb02 import (  # noqa: F401
    check_ig_by_hand,
    gradient_times_input_share,
    check_gradient_times_input_prediction,
    check_expected_gradients,
)
from helpers.checks.nb03 import (  # noqa: F401
    check_batch_explainer,
    check_batch_ig,
    check_fixed_grid_prediction,
    check_ranking,
    reference_batch_ig,
)
from helpers.checks.nb04 import (  # noqa: F401
    check_vargrad,
    check_batched_smoothgrad,
    check_squared_prediction,
)
from helpers.checks.nb05 import (  # noqa: F401
    LAYER_KINDS,
    check_seed_agreement_prediction,
    reference_expected_gradients,
    check_pixel_expected_gradients,
)
from helpers.checks.nb06 import (  # noqa: F401
    check_probability_from_shap,
    check_baseline_shapley,
    strongest_interaction_reference,
    interaction_strengths,
    interaction_verdict,
    INTERACTION_CHOICES,
    check_interaction_prediction,
)
from helpers.checks.nb07 import (  # noqa: F401
    check_randomization_prediction,
    check_deletion_curve,
    reference_abpc,
    check_abpc,
)
from helpers.checks.nb08 import (  # noqa: F401
    check_gradcam_by_hand,
    check_guided_backprop_closed_form,
    reference_gradcam_plus_plus,
    check_gradcam_plus_plus,
    class_change_correlations,
    check_class_prediction,
)
from helpers.checks.nb09 import (  # noqa: F401
    check_fusion_prediction,
    check_max_rollout,
    reference_max_rollout,
    check_token_gradcam,
    token_layer_recording,
)
from helpers.checks.nb10 import (  # noqa: F401
    fourier_alone_survival,
    check_fourier_alone_prediction,
    check_laplacian_penalty,
    reference_ascent_step,
    ascent_run,
    check_ascent_step,
)
