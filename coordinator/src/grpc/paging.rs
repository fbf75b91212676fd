//! Runs of any size over gRPC, whose messages stop at 4 MiB: `GetRun` answers
//! a page of tasks at a time, lists and progress updates leave tasks out. The
//! run's totals always cover every task.

use floe_proto::v1 as pb;
use prost::Message;
use tonic::Status;

/// Most bytes of tasks in one answer: half of gRPC's default limit, so the
/// run's own fields and a task over the budget still fit.
pub const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The page of `run`'s tasks that `token` (an offset) starts, at most
/// `page_size` tasks (0: no count limit) and [`PAGE_BYTES`] (at least one task).
pub fn page(mut run: pb::Run, page_size: u32, token: &str) -> Result<pb::Run, Status> {
    let offset: usize = match token {
        "" => 0,
        t => t.parse().map_err(|_| {
            Status::invalid_argument(format!(
                "page_token `{t}` is not one this coordinator gave: start again without it"
            ))
        })?,
    };
    if page_size == 0
        && offset == 0
        && run.tasks.iter().map(Message::encoded_len).sum::<usize>() <= PAGE_BYTES
    {
        return Ok(run);
    }
    let limit = if page_size == 0 {
        usize::MAX
    } else {
        page_size as usize
    };
    let tasks = std::mem::take(&mut run.tasks);
    let total = tasks.len();
    let mut bytes = 0;
    for task in tasks.into_iter().skip(offset) {
        let size = task.encoded_len();
        if run.tasks.len() >= limit || (!run.tasks.is_empty() && bytes + size > PAGE_BYTES) {
            break;
        }
        bytes += size;
        run.tasks.push(task);
    }
    let next = offset + run.tasks.len();
    if next < total {
        run.next_page_token = next.to_string();
    }
    Ok(run)
}

/// The run without its tasks (their counts stay).
pub fn summary(mut run: pb::Run) -> pb::Run {
    run.tasks.clear();
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tasks: usize, inputs_each: usize) -> pb::Run {
        pb::Run {
            run_id: "r".into(),
            task_count: tasks as u32,
            tasks: (0..tasks)
                .map(|i| pb::Task {
                    task_id: format!("t-{i}"),
                    inputs: (0..inputs_each)
                        .map(|j| format!("s3://bronze/t/date=2025-01-01/{i}-{j:0>200}.csv"))
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Pages concatenated are the run's tasks in order, each page under the
    /// byte budget however large its tasks.
    #[test]
    fn pages_cover_every_task_once_and_each_fits_a_message() {
        for (tasks, inputs, page_size) in
            [(3_000, 40, 0), (2_500, 1, 500), (7, 0, 3), (1, 30_000, 0)]
        {
            let whole = run(tasks, inputs);
            let mut token = String::new();
            let mut seen = Vec::new();
            loop {
                let page = page(whole.clone(), page_size, &token).unwrap();
                assert!(!page.tasks.is_empty());
                let bytes: usize = page.tasks.iter().map(Message::encoded_len).sum();
                assert!(
                    page.tasks.len() == 1 || bytes <= PAGE_BYTES,
                    "{bytes} bytes"
                );
                if page_size > 0 {
                    assert!(page.tasks.len() <= page_size as usize);
                }
                assert_eq!(page.task_count, tasks as u32);
                seen.extend(page.tasks.iter().map(|t| t.task_id.clone()));
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            let all: Vec<_> = whole.tasks.iter().map(|t| t.task_id.clone()).collect();
            assert_eq!(seen, all);
        }
        let small = run(5, 1);
        assert_eq!(
            page(small.clone(), 0, "").unwrap(),
            small,
            "a small run in one answer"
        );
        assert!(page(small, 0, "x")
            .unwrap_err()
            .message()
            .contains("start again"));
    }
}
