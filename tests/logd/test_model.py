from logd.model import Scope, event_id, seq_of_event_id


def test_event_ids_are_56_digits_and_round_trip() -> None:
    for seq in (0, 1, 123456789, 2**62):
        value = event_id(seq)
        assert len(value) == 56
        assert value.isdigit()
        assert seq_of_event_id(value) == seq
    assert seq_of_event_id("abc") is None


def test_arns() -> None:
    scope = Scope(region="eu-west-1", account="000000000001")
    assert scope.log_group_arn("/a/b") == "arn:aws:logs:eu-west-1:000000000001:log-group:/a/b"
    assert scope.log_stream_arn("g", "s").endswith("log-group:g:log-stream:s")
