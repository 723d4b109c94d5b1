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
from helpers.checks.nb02 import (  # noqa: F401
    check_left_riemann_ig,
)
from helpers.checks.nb03 import (  # noqa: F401
    check_batch_explainer,
    check_ranking,
)
from helpers.checks.nb04 import (  # noqa: F401
    check_smooth_ig,
)
from helpers.checks.nb05 import (  # noqa: F401
    reference_sampled_additivity,
    check_sampled_additivity,
)
from helpers.checks.nb06 import (  # noqa: F401
    check_shap_predictions,
    strongest_interaction_reference,
    check_strongest_interaction,
)
from helpers.checks.nb08 import (  # noqa: F401
    check_gradcam_by_hand,
    check_guided_backprop_closed_form,
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
